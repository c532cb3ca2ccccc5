# Rules of the pitch stage.
