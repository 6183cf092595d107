"""culturebot: a Discord bot for researching the cultural alignment of language models."""

import os

# The digest's bootstrap multiplies many small matrices: BLAS threads only contend on a small machine
# (measured: 135-210 ms per small server with default threads, 73 ms with one). Must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
