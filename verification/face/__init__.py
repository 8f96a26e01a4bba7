"""Face: detect -> track -> mesh -> blendshapes -> match / challenges / replay cues."""
