"""randomNumber: the smallest useful action, in two versions (clients pick one with ``apiVersion``).

Version 2 (seed 002) says its sentence in the connection's language: ``?locale=fr``, an
``Accept-Language: fr`` header, or ``paramAdd locale=fr`` on TCP (catalogs in ``locales/``).
"""
import random

from hero import Action


class RandomNumber(Action):
    name = "randomNumber"
    description = "I am an API method which will generate a random number"
    output_example = {"randomNumber": 0.123, "stringRandomNumber": "Your random number is 0.123"}

    def run(self, data):
        number = random.random()
        return {"randomNumber": number, "stringRandomNumber": f"Your random number is {number}"}


class RandomNumber2(Action):
    name = "randomNumber"
    version = 2
    description = "I am an API method which will generate a random number, and say it in your language"
    output_example = {"randomNumber": 0.123, "stringRandomNumber": "Your random number is 0.123", "version": 2}

    def run(self, data):
        number = random.random()
        sentence = data.connection.localize("Your random number is {number}", number=number)
        return {"randomNumber": number, "stringRandomNumber": sentence, "version": 2}
