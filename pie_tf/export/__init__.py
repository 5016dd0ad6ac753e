"""pie_tf.export."""
