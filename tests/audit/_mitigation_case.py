"""A small binary audit with a protected attribute, for the mitigation tables' tests."""
import numpy as np

import pie_tf


def dense_case(seed, n=300):
    """labels (20% positive), Male (40%) and 3 dense members that are always right."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    male = rng.random(n) < 0.4
    return labels, male, np.repeat(labels[None], 3, axis=0)


def forgetting(dense, labels, n_forgotten):
    """Dense members of which the first two forget the first ``n_forgotten`` examples."""
    out = dense.copy()
    out[:2, :n_forgotten] = 1 - labels[:n_forgotten]
    return out


def audit(dense, variants, labels, male):
    return pie_tf.audit(dense, variants, labels, attributes={"Male": male},
                        target_name="Blond_Hair", n_bootstrap=20)
