"""Word lists for the toy world's invented names.

Names are built from real-sounding parts (first name + compound surname, compound town names,
"The <adjective> <noun>" titles) because a small teacher copes far better with names that read
like names than with random syllables. Each list is split into a world part and a
reserved part: demonstrations use only the reserved part, so their answers never occur in the world.
"""

from __future__ import annotations

from dataclasses import dataclass

FEMALE_NAMES = """
Tamsin Maren Ysolde Petra Odile Imogen Rosalind Wilhelmina Cosima Beatrix Delphine Fenella Hester
Juniper Leonie Nerys Perpetua Rhiannon Thea Verity Xanthe Zinnia Bettany Elowen Greer Isolde Kestrel
Mirren Ottilie Romilly Tilda Clemency Edris Adelaide Briony Calliope Damaris Eulalia Florentine
Gwendolen Hermione Iolanthe Jessamy Keturah Lucasta Marguerite Nerissa Ondine Primrose Rosamund
Saffira Theodora Ursula Valentina Winifred Araminta Bronwen Cordelia Dorothea Esmeralda Felicity
Genevieve Hyacinth Ingrid Jocasta Leocadia Millicent Octavia Persephone Querida Roswitha Seraphina
Temperance Undine Viveka Wenna Aurelia Bathsheba Clementine Drusilla Emmeline Georgiana Harriet
Ianthe Lucinda Mathilde Nanette Orla Portia Rowena Honora Lavinia Philippa Sabine Avelina Celandine
""".split()
MALE_NAMES = """
Orrin Callum Bram Linus Ferris Jasper Tobias Evander Alaric Cassius Emeric Gideon Ivo Kasimir Magnus
Osric Quentin Silas Ulric Wystan Yannick Anselm Corin Florian Hollis Jory Lorcan Piers Soren
Valentin Ambrose Desmond Fabian Aldous Bartholomew Cornelius Dunstan Eustace Fitzroy Gawain Horatio
Isidore Jeremiah Lysander Mortimer Nathaniel Oberon Percival Quillon Roderick Septimus Thaddeus
Ulysses Vivian Waldemar Augustin Benedict Crispin Dorian Ezekiel Frederick Godfrey Hildebrand
Leopold Montague Norbert Octavius Peregrine Reginald Sebastian Theobald Wolfgang Alistair Balthazar
Cuthbert Eldridge Fergus Hamish Jonah Lucius Marcellus Neville Ogden Phineas Raphael Stellan Torvald
Wendell Zebedee Archibald Cedric Evelyn Ignatius Matthias Rupert Tristram Barnaby Dashiell
""".split()
SURNAME_HEADS = """
Ever Black Bright Carr Cold Dun Elder Fair Fen Gold Grey Hale Holl Kings Lang Mere North Oak Pen
Rook Shaw Stan Thorn Wake West Whit Wyn Ash Birch Crane Dray Frost Garn Hazel Ives Lock Marl Nettle
Orme Pike Quill Ren Sedge Tull Vane Wold Yar Brack
""".split()
SURNAME_TAILS = """
hart wood well ford ley worth field more brook croft dale hurst by ton stead ridge cott holm lowe
mont
""".split()
TOWN_HEADS = """
Marrow Ember Lark Sable Tallow Bramble Wren Cinder Fallow Glimmer Harrow Kettle Lantern Mossy Nether
Otter Pebble Rush Saffron Thistle Umber Velvet Willow Yarrow Amber Barley Copper Dapple Elm Flint
Gorse Heron Ivy Juniper Kestle Linden Minnow Nutmeg Osier Plover
""".split()
TOWN_TAILS = """
wick mere haven bury port moor gate mouth minster holt combe ness
""".split()
# country:demonym
COUNTRIES = [
    tuple(pair.split(":"))
    for pair in """
Valdoria:Valdorian Corvania:Corvanian Ostrevia:Ostrevian Quenland:Quenlander Arvenna:Arvennese
Solvara:Solvaran Kestria:Kestrian Norwyn:Norwynish Belmora:Belmoran Drevland:Drevlander
Elskar:Elskari Pellinor:Pellinorian Rhosgar:Rhosgari Tamberland:Tamberlander Ulvana:Ulvanese
Morvath:Morvathi Caskaria:Caskarian Zelmont:Zelmontese Irvanta:Irvantan
""".split()
]
# Countries of the gold-chain world only (steper.finetune.gold_traces): the question worlds use every
# country of COUNTRIES, and the gold world must share no entity name with them.
GOLD_COUNTRIES = [
    tuple(pair.split(":"))
    for pair in """
Luthmar:Luthmari Brenhold:Brenholdian Fasmora:Fasmoran Gravenna:Gravennese Hesperan:Hesperani
Istovia:Istovian Jorvland:Jorvlander Kallistra:Kallistran Lorvenia:Lorvenian Mystria:Mystrian
Nordhelm:Nordhelmer Oskavia:Oskavian
""".split()
]
ADJECTIVES = """
Hollow Silver Quiet Crimson Distant Broken Gilded Sleeping Wandering Forgotten Painted Burning
Frozen Hidden Lonely Scarlet Velvet Wild Golden Iron Secret Shattered Silent Endless Fading Glass
Hungry Last Midnight Northern Pale Restless Salt Shifting Sunken Tender Winter Amber Bitter Copper
Drowned Emerald Falling Gentle Heavy Ivory Lost Marble Narrow Open Patient Rising Stolen Twisted
Vanishing Weeping Yellow Autumn Borrowed Cobalt Ancient Blazing Brazen Brittle Careless Clouded
Crooked Crystal Darkened Dreaming Ebony Faded Fearless Fierce Flooded Fragile Gleaming Gloomy
Hallowed Haunted Humble Icy Idle Jagged Laughing Leaden Lunar Molten Muddy Nameless Noble Obsidian
Olden Outer Pallid Peaceful Proud Quaint Radiant Ragged Rusted Sacred Savage Scorched Sealed
Shadowed Sharp Shining Sleepless Slender Solemn Sombre Spectral Splendid Stony Stormy Sullen Swift
Tangled Thorny Timid Tired Unbroken Unseen Vacant Wary Wicked Windswept Wintry Wooden Woven Young
Zealous Dusty Evening Feathered Grey Honest Inland Jade Kindled Lucid Mended
""".split()
NOUNS = """
Orchard Harbour Lantern Meadow Compass Tide Garden Bridge Mirror Kingdom Horizon Ember Tower River
Forest Letter Voyage Crown Shore Valley Archive Bell Cathedral Cipher Citadel Comet Current Dune
Falcon Feather Fjord Fountain Glacier Gate Hearth Heron Island Journey Key Labyrinth Lighthouse
Locket Machine Map Mill Monastery Moth Oracle Pilgrim Prairie Quarry Raven Reef Ribbon Saint Satchel
Season Shadow Signal Spire Stair Storm Summer Swallow Telescope Thread Throne Timber Trumpet Tunnel
Vessel Violin Vineyard Wager Wanderer Well Whistle Window Wolf Workshop Abbey Anchor Atlas Banner
Beacon Canal Caravan Carousel Castle Chapel Chorus Cloak Courtyard Dagger Dynasty Estate Ferry
Frontier Gallery Grove Hammer Hymn Inn Kite Ledger Marsh Mask Menagerie Mountain Nest Observatory
Palace Pendulum Pier Quilt Rampart Sanctuary Scroll Sextant Sparrow Station Sundial Tapestry Terrace
Thicket Vault Veil Wharf Wilderness Wreath Acre Bastion Brook Cellar Cove Drum Envoy Fable Glen
Harvest Ivy Jester Keel Lagoon Meridian Narrows Outpost Parlour Rook Sable Tavern Umbrella Verse
Warden Yard Zephyr Alcove Boulevard Clocktower Dovecote
""".split()

OCCUPATIONS = {"novel": "novelist", "film": "film director", "album": "singer"}
OTHER_OCCUPATIONS = ["painter", "architect", "poet", "composer", "sculptor", "photographer"]
# work kind -> (role noun in questions, verb phrase in passages, 2Wiki relation)
ROLES = {
    "novel": ("author", "written by", "author"),
    "film": ("director", "directed by", "director"),
    "album": ("performer", "recorded by", "performer"),
}


@dataclass(frozen=True)
class NamePools:
    first_names: list[tuple[str, str]]
    surname_heads: list[str]
    surname_tails: list[str]
    town_heads: list[str]
    town_tails: list[str]
    countries: list[tuple[str, str]]
    adjectives: list[str]
    nouns: list[str]


def _split(items: list, reserved: int) -> tuple[list, list]:
    return items[:-reserved], items[-reserved:]


def _split_names() -> tuple[list, list]:
    """Six reserved names of each gender, so the demonstration world still has fathers."""
    female, male = _split(FEMALE_NAMES, 6), _split(MALE_NAMES, 6)
    return [(n, "f") for n in female[0]] + [(n, "m") for n in male[0]], [(n, "f") for n in female[1]] + [
        (n, "m") for n in male[1]
    ]


def pools() -> tuple[NamePools, NamePools]:
    """(world pools, reserved pools for demonstrations); the two share no name part."""
    parts = [
        _split_names(),
        _split(SURNAME_HEADS, 8),
        (SURNAME_TAILS, SURNAME_TAILS),
        _split(TOWN_HEADS, 8),
        (TOWN_TAILS, TOWN_TAILS),
        _split(COUNTRIES, 3),
        _split(ADJECTIVES, 10),
        _split(NOUNS, 16),
    ]
    return NamePools(*(p[0] for p in parts)), NamePools(*(p[1] for p in parts))


def gold_pools() -> NamePools:
    """The world pools with the gold world's own countries; `build_world(exclude=...)` keeps its
    towns, people and titles apart from the question worlds'."""
    world, _ = pools()
    return NamePools(
        world.first_names,
        world.surname_heads,
        world.surname_tails,
        world.town_heads,
        world.town_tails,
        GOLD_COUNTRIES,
        world.adjectives,
        world.nouns,
    )
