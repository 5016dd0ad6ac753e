"""pie_tf.audit."""
