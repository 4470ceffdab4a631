"""randomNumber: the smallest useful action."""
import random

from hero import Action


class RandomNumber(Action):
    name = "randomNumber"
    description = "I am an API method which will generate a random number"
    output_example = {"randomNumber": 0.123, "stringRandomNumber": "Your random number is 0.123"}

    def run(self, data):
        number = random.random()
        return {"randomNumber": number, "stringRandomNumber": f"Your random number is {number}"}
