"""The top floor: pages that read several contexts at once (each role's workbench, the person
page). Contexts never import from here."""
