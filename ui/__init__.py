"""The Gradio chat UI over the public `rag` API: `rag ui`, or `ui.app.build_app(settings)`."""
