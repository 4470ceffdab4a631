"""cacheTest: save, size, load and destroy a value in the shared cache."""
from hero import Action, Input


def at_least_three_letters(value):
    if len(str(value)) < 3:
        return "inputs should be at least 3 letters long"
    return True


class CacheTest(Action):
    name = "cacheTest"
    description = "I will test the internal cache functions of the API"
    inputs = {
        "key": Input(required=True, formatter=str, validator=at_least_three_letters),
        "value": Input(required=True, formatter=str, validator=at_least_three_letters),
    }
    output_example = {"cacheTestResults": {"saveResp": True, "sizeResp": 1,
                                           "loadResp": {"key": "cacheTest_key", "value": "value", "createdAt": 0},
                                           "deleteResp": True}}

    def run(self, data):
        cache = data.api.cache
        key = f"cacheTest_{data.params['key']}"
        save = cache.save(key, data.params["value"], 5000)
        size = cache.size()
        loaded = cache.load(key)
        deleted = cache.destroy(key)
        return {"cacheTestResults": {"saveResp": save, "sizeResp": size, "loadResp": loaded, "deleteResp": deleted}}
