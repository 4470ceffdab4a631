"""The example app's one model: users, seeded with two on a fresh database."""
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hero import Model


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    @classmethod
    def seeds(cls):
        return [{"email": "ann@example.com", "name": "Ann"}, {"email": "bo@example.com", "name": "Bo"}]
