"""cacheTest: save, size, load and destroy a value in the shared cache."""
from marshmallow import fields, validate

from hero import Action

#: marshmallow fields say exactly what they take, so the OpenAPI document can too (docs/http.md).
AT_LEAST_THREE_LETTERS = validate.Length(min=3, error="inputs should be at least 3 letters long")


class CacheTest(Action):
    name = "cacheTest"
    description = "I will test the internal cache functions of the API"
    inputs = {
        "key": fields.String(required=True, validate=AT_LEAST_THREE_LETTERS),
        "value": fields.String(required=True, validate=AT_LEAST_THREE_LETTERS),
    }
    output_example = {"cacheTestResults": {"saveResp": True, "sizeResp": 1,
                                           "loadResp": {"key": "cacheTest_key", "value": "value", "createdAt": 0},
                                           "deleteResp": True}}

    def run(self, data):
        cache = data.api.cache
        key = f"cacheTest_{data.params['key']}"
        save = cache.save(key, data.params["value"], 5000)
        size = cache.count()  # NOTE: the cache's index, not a scan of every key
        loaded = cache.load(key)
        deleted = cache.destroy(key)
        return {"cacheTestResults": {"saveResp": save, "sizeResp": size, "loadResp": loaded, "deleteResp": deleted}}
