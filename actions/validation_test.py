"""validationTest: a validator and a formatter, echoed back."""
from hero import Action, Input


def is_a_string_of_letters(value):
    return isinstance(value, str) and value.isalpha()


def to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("Failed formatting number correctly!") from None


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
