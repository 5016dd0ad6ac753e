"""pie_tf.population: train populations of dense and compressed models into a prediction store.

    from pie_tf.population import Population, Recipe, standard_variants
    population = Population(model_fn, train_ds, {"test": test_ds}, store="/tmp/store",
                            recipe=Recipe(epochs=30, batch_size=128), seeds=range(30),
                            variants=standard_variants([0.5, 0.9], qat=True, tflite=["int8"]))
    population.run(shard=(0, 4))       # this job's quarter; re-running skips what is stored

A recipe's own training pieces, for code that trains beside a population on the same batches
and schedule (e.g. a bare-Keras baseline): ``steps_per_epoch(ds, recipe)``,
``train_batches(ds, recipe, seed)``, ``compile_model(model, recipe, learning_rate=...,
total_steps=...)``.

Documentation: docs/population.md.
"""
from pie_tf.population._train import compile_model, steps_per_epoch, train_batches
from pie_tf.population.population import MemberResult, Population
from pie_tf.population.recipe import Recipe
from pie_tf.population.variants import TFLITE_MODES, Variant, standard_variants

__all__ = ["Population", "MemberResult", "Recipe", "Variant", "standard_variants",
           "TFLITE_MODES", "steps_per_epoch", "train_batches", "compile_model"]
