"""The formula language of the ``matgrad`` command: parser, shape inference, claims."""
