"""createChatRoom: make a chat room that every process of the cluster shares (PROTOCOL §5)."""
from hero import Action, ChatError, Input


class CreateChatRoom(Action):
    name = "createChatRoom"
    description = "I will create a chat room if it does not exist"
    inputs = {"name": Input(required=True, description="the room's name")}
    output_example = {"name": "lobby", "didCreate": True}

    def run(self, data):
        name = data.params["name"]
        try:
            did_create = data.api.chat.add(name)
        except ChatError:  # the room exists already
            did_create = False
        return {"name": name, "didCreate": did_create}
