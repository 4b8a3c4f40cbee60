"""seqlab's command-line tools; each module holds one tool's ``main``."""
