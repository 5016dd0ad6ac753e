"""pie_tf.population."""
