from kechuang.app import create_app


def test_openapi_describes_errors_and_tags_every_operation():
    schema = create_app().openapi()
    assert "Error" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert op.get("tags"), f"{method.upper()} {path} has no tag"
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_docs_served(client_as):
    c = client_as(None)
    assert c.get("/api/openapi.json").status_code == 200
    assert c.get("/api/docs").status_code == 200
