# Rules of the experiments stage.
