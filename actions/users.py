"""Users in the database (models/user.py): create, list, show, delete. Each action's ``data.db`` is
its own session, committed when it returns and rolled back when it raises.

SQLAlchemy is imported inside ``run``: it is an optional part (``pip install -e '.[models]'``), and
without it this app still boots (its models are off, and these actions answer 503 saying so).
"""
from marshmallow import validate

from hero import Action, HeroError, Input


class UserNotFound(HeroError):
    status = 404
    message = "user not found"


def not_blank(value):
    return bool(str(value).strip()) or "must not be blank"


class CreateUser(Action):
    name = "createUser"
    description = "I add a user"
    inputs = {"email": Input(required=True, validator=lambda v: "@" in v or "email must contain @"),
              "name": Input(required=True, validator=not_blank)}
    output_example = {"user": {"id": 3, "email": "cy@example.com", "name": "Cy"}}

    def run(self, data):
        User = data.api.models.User  # 503 "models are off: ..." without SQLAlchemy
        from sqlalchemy import select
        if data.db.scalar(select(User).where(User.email == data.params["email"])) is not None:
            raise HeroError("a user with this email exists", status=409)
        user = User(email=data.params["email"], name=data.params["name"])
        data.db.add(user)
        data.db.flush()  # assigns the id
        return {"user": user.to_dict()}


def whole_number(value) -> int:  # the return annotation is the input's type in the OpenAPI document
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError("must be a whole number")


#: Ids are the database's 64-bit integers: a larger number is refused as input, never sent to SQL.
USER_ID = Input(required=True, formatter=whole_number, validator=validate.Range(1, 2**63 - 1))


class ListUsers(Action):
    name = "listUsers"
    description = "I list users, by id"
    inputs = {"limit": Input(default=100, formatter=whole_number, validator=validate.Range(0, 1000)),
              "offset": Input(default=0, formatter=whole_number, validator=validate.Range(0, 2**63 - 1))}
    output_example = {"users": [{"id": 1, "email": "ann@example.com", "name": "Ann"}]}

    def run(self, data):
        User = data.api.models.User  # 503 "models are off: ..." without SQLAlchemy
        from sqlalchemy import select
        limit = max(0, min(data.params["limit"], 1000))
        users = data.db.scalars(select(User).order_by(User.id).limit(limit).offset(max(0, data.params["offset"])))
        return {"users": [user.to_dict() for user in users]}


class ShowUser(Action):
    name = "showUser"
    description = "I show one user"
    inputs = {"id": USER_ID}
    output_example = {"user": {"id": 1, "email": "ann@example.com", "name": "Ann"}}

    def run(self, data):
        user = data.db.get(data.api.models.User, data.params["id"])
        if user is None:
            raise UserNotFound()
        return {"user": user.to_dict()}


class DeleteUser(Action):
    name = "deleteUser"
    description = "I delete one user"
    inputs = {"id": USER_ID}
    output_example = {"deleted": 1}

    def run(self, data):
        user = data.db.get(data.api.models.User, data.params["id"])
        if user is None:
            raise UserNotFound()
        data.db.delete(user)
        return {"deleted": user.id}
