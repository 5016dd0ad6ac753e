"""pie_tf.store."""
