"""pie_tf.corruptions."""
