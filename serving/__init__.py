"""The serving core: engines, scheduler, sequences, sampling parameters and sampler, tokenizer,
text stream, admission and the `generate` entry (serving.generation), with errors of its own.

No Flask, uWSGI or Prometheus: the HTTP layer (api/), `python -m model sample`, export's parity
check and the benchmarks all call it, and it runs in the trainer image as well as the api image.
"""
