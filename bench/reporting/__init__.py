"""`bench report`: the report's data, its layouts, its renderers and its plots."""
