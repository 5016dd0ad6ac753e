"""pie_tf.population: train populations of dense and compressed models into a prediction store.

    from pie_tf.population import Population, Recipe, standard_variants
    population = Population(model_fn, train_ds, {"test": test_ds}, store="/tmp/store",
                            recipe=Recipe(epochs=30, batch_size=128), seeds=range(30),
                            variants=standard_variants([0.5, 0.9], qat=True, tflite=["int8"]))
    population.run(shard=(0, 4))       # this job's quarter; re-running skips what is stored

Documentation: docs/population.md.
"""
from pie_tf.population.population import MemberResult, Population
from pie_tf.population.recipe import Recipe
from pie_tf.population.variants import TFLITE_MODES, Variant, standard_variants

__all__ = ["Population", "MemberResult", "Recipe", "Variant", "standard_variants",
           "TFLITE_MODES"]
