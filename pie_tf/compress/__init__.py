"""pie_tf.compress."""
