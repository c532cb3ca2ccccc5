# Rules of the corpus stage.
