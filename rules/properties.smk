# Rules of the properties stage.
