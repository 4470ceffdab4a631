"""showDocumentation: every documented action, by name and version."""
from hero import Action


class ShowDocumentation(Action):
    name = "showDocumentation"
    description = "return API documentation"
    output_example = {"documentation": {"randomNumber": {"1": {"name": "randomNumber", "version": 1}}}}

    def run(self, data):
        documentation = {}
        for action in data.api.actions:
            if action.to_document:
                documentation.setdefault(action.name, {})[str(action.version)] = action.describe()
        return {"documentation": documentation}
