"""The one workload every serving figure uses, so the stack, the engine and the originals compare.

Each request: a prompt of exactly 16 tokens, 64 new tokens, top-k 40 sampling.
"""

from pathlib import Path

PROMPT_TOKENS = 16
NEW_TOKENS = 64
TOP_K = 40
TEMPERATURE = 1.0
# Concurrent clients for the stack (and batch sizes for the engine); the original designs are
# too slow for more than a few clients.
LEVELS = (1, 8, 32)
ORIGINAL_LEVELS = (1, 8)

# Plain prose to cut prompts from; any text works, it only has to tokenize into words.
SOURCE_TEXT = (
    "Ash and Pikachu were walking along the coast road when a storm rolled in from the sea, "
    "so they ran toward the lighthouse where an old keeper told them a story about the "
    "harbour, the night market and a jar of honey that nobody could open for forty years."
)


def prompt_text(model_dir: Path) -> str:
    """A prefix that the model's own tokenizer encodes into exactly PROMPT_TOKENS tokens."""
    from model.tokenizer import load_fast_tokenizer

    tokenizer = load_fast_tokenizer(Path(model_dir))
    words = SOURCE_TEXT.split(" ")
    for start in range(len(words)):
        ids = tokenizer.encode(" ".join(words[start:])).ids
        if len(ids) < PROMPT_TOKENS:
            break
        text = tokenizer.decode(ids[:PROMPT_TOKENS])
        if len(tokenizer.encode(text).ids) == PROMPT_TOKENS:
            return text
    raise ValueError(f"no {PROMPT_TOKENS}-token prompt found for the tokenizer in {model_dir}")
