"""Container image: pin the serving dependencies, build, run and smoke-test the image."""
