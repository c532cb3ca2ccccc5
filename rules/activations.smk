# Rules of the activations stage.
