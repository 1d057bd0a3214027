"""The model stage: base models, fine-tuning, evaluation and export. Importing it loads no TensorFlow."""
