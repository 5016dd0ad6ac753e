"""pie_tf.report."""
