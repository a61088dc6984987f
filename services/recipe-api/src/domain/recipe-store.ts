import type { NewRecipe, Recipe } from './recipe.js';
import { seedRecipes } from './seed.js';

export interface ListQuery {
  cuisine?: string | undefined;
  /** Exclusive: the page starts after this id (0 = from the start). */
  afterId: number;
  limit: number;
}

export interface Page {
  items: Recipe[];
  hasMore: boolean;
}

export interface PhotoRecord {
  recipeId: number;
  bytes: number;
  sha256: string;
  contentType: string;
  filename: string;
}

/** The catalogue's storage, as a database would offer it: every call is asynchronous and slow-ish. */
export interface RecipeStore {
  get(id: number): Promise<Recipe | undefined>;
  /** Recipes in id order (optionally of one cuisine), starting after `afterId`. */
  list(query: ListQuery): Promise<Page>;
  create(input: NewRecipe): Promise<Recipe>;
  savePhoto(photo: PhotoRecord): Promise<void>;
  count(): number;
}

export interface InMemoryStoreOptions {
  seedCount: number;
  /** Simulated database latency per call (STORE_LATENCY_MS). */
  latencyMs: number;
  now?: () => Date;
}

/**
 * Seeded in-memory store. Ids only grow, so one sorted id list per cuisine (and one overall) gives
 * cursor pagination by binary search, without scanning the catalogue on every page.
 */
export class InMemoryRecipeStore implements RecipeStore {
  private readonly recipes = new Map<number, Recipe>();
  private readonly allIds: number[] = [];
  private readonly idsByCuisine = new Map<string, number[]>();
  private readonly photos = new Map<number, PhotoRecord>();
  private nextId: number;
  private readonly now: () => Date;

  constructor(private readonly options: InMemoryStoreOptions) {
    this.now = options.now ?? (() => new Date());
    for (const recipe of seedRecipes(options.seedCount)) this.insert(recipe);
    this.nextId = options.seedCount + 1;
  }

  async get(id: number): Promise<Recipe | undefined> {
    await this.latency();
    return this.recipes.get(id);
  }

  async list({ cuisine, afterId, limit }: ListQuery): Promise<Page> {
    await this.latency();
    const ids = cuisine === undefined ? this.allIds : (this.idsByCuisine.get(cuisine) ?? []);
    const start = firstIndexAbove(ids, afterId);
    const slice = ids.slice(start, start + limit);
    return {
      items: slice.map((id) => this.recipes.get(id) as Recipe),
      hasMore: start + limit < ids.length,
    };
  }

  async create(input: NewRecipe): Promise<Recipe> {
    await this.latency();
    const recipe: Recipe = { id: this.nextId++, ...input, updatedAt: this.now().toISOString() };
    this.insert(recipe);
    return recipe;
  }

  async savePhoto(photo: PhotoRecord): Promise<void> {
    await this.latency();
    this.photos.set(photo.recipeId, photo);
  }

  count(): number {
    return this.recipes.size;
  }

  private insert(recipe: Recipe): void {
    this.recipes.set(recipe.id, recipe);
    this.allIds.push(recipe.id);
    const list = this.idsByCuisine.get(recipe.cuisine) ?? [];
    list.push(recipe.id);
    this.idsByCuisine.set(recipe.cuisine, list);
  }

  private latency(): Promise<void> {
    return this.options.latencyMs > 0 ? new Promise((r) => setTimeout(r, this.options.latencyMs)) : Promise.resolve();
  }
}

/** Index of the first id greater than `afterId` in an ascending list. */
function firstIndexAbove(ids: number[], afterId: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as number) <= afterId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
