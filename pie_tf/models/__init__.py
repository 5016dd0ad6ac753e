"""pie_tf.models."""
