"""The application layer: one operation per use case, its argument model and one error table,
served alike by the MQTT commands, the HTTP routes and the command line."""
