"""Goals: treatment goals owned by DPS, work and education goals owned by NAV."""
