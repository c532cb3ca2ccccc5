# Rules of the align stage.
