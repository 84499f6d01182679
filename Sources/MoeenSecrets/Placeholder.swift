import MoeenCore
