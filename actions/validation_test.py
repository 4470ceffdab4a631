"""validationTest: a validator and a formatter, echoed back."""
import re

from hero import Action, Input


def is_a_string_of_letters(value):
    return isinstance(value, str) and value.isascii() and value.isalpha()


# What the check means for the OpenAPI document (docs/http.md, OpenAPI): hero cannot read a function.
is_a_string_of_letters.openapi = {"type": "string", "pattern": "^[A-Za-z]+$"}


def to_int(value) -> int:  # the return annotation is the input's type in the OpenAPI document
    # NOTE: an integer or its digits; int() alone would also take true, 1.5 and " 1_0 ".
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise ValueError("Failed formatting number correctly!")


class ValidationTest(Action):
    name = "validationTest"
    description = "I will test the validation of inputs"
    inputs = {
        "string": Input(required=True, validator=is_a_string_of_letters),
        "number": Input(required=True, formatter=to_int),
    }
    output_example = {"string": "abc", "number": 1}

    def run(self, data):
        return {"string": data.params["string"], "number": data.params["number"]}
