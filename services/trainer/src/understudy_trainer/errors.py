class TrainerError(Exception):
    """A failure with the classification the orchestrator acts on: retry the run or give up."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
