"""The corpus stage: `python -m corpus prepare IN_DIR OUT_DIR` cleans, de-duplicates and splits."""
