"""The designs Ghostwriter replaces, rebuilt small so they can be measured on the same workload.

1. `reload_per_request`: Flask under uWSGI that loads the gpt-2-simple model and calls
   `gpt2.generate` on every request, as the original Pokémon generator did.
2. `load_once`: gpt-2-simple with the model loaded once per worker and `gpt2.generate` per
   request (which still builds new graph ops on every call).
"""
