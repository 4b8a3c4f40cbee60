"""The sentencepiece model a task's data was encoded with, for tasks that turn pieces back into text."""

from __future__ import annotations

from .data_paths import sentencepiece_path, split_paths
from .sentencepiece_model import SentencePieceModel


class DataSentencePiece:
    """Mixin: the task's sentencepiece model, carried by a checkpoint or stored beside the data."""

    def init_sentencepiece(self, data: str, given: SentencePieceModel | None) -> None:
        """Keep ``given`` (a task rebuilt from a checkpoint), else find the model seq-preprocess left in ``data``."""
        self._sentencepiece = given
        self.spm_model_path = None if given is not None else sentencepiece_path(split_paths(data)[0])

    def load_sentencepiece(self) -> SentencePieceModel | None:
        """The sentencepiece model of the data (from the checkpoint, or stored beside the data), if any."""
        if self._sentencepiece is None and self.spm_model_path:
            self._sentencepiece = SentencePieceModel.load(self.spm_model_path)
        return self._sentencepiece
