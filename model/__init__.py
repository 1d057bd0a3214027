"""The model stage: base, fine-tune, evaluate, export. Importing it loads no TensorFlow."""
