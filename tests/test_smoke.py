from tests.factories import World, create_plan


async def test_clinician_creates_and_reads_a_plan(client, world: World) -> None:
    plan = await create_plan(client, world)
    response = await client.get(f"/api/v1/dps/plans/{plan['id']}", headers=world.clinician.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["dps_unit"] == world.dps_unit
