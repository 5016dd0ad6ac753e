"""pie_tf.data."""
