# Rules of the model stage.
