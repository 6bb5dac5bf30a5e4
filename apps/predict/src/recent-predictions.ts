/** What feedback needs to know about a prediction it labels. */
export interface KnownPrediction {
  text_hash: string;
  text?: string | undefined;
  model_version: string;
  label: string;
}

/**
 * This instance's latest predictions by id, bounded (oldest dropped first), so feedback for a
 * fresh prediction is joined without reading the store.
 */
export class RecentPredictions {
  private readonly byId = new Map<string, KnownPrediction>();

  constructor(private readonly capacity: number) {}

  remember(id: string, prediction: KnownPrediction): void {
    this.byId.set(id, prediction);
    if (this.byId.size > this.capacity) this.byId.delete(this.byId.keys().next().value!);
  }

  get(id: string): KnownPrediction | undefined {
    return this.byId.get(id);
  }
}
