"""What is kept of the answers: the answer log (``local``: SQLite in the data dir; ``shared``:
on the Chroma server in server mode), from which conversations are rebuilt, with the votes
on each answer (``feedback_export``: ``sanad feedback export``)."""
